"""moneytrail: the HTTP service that keeps the ledger and exposes the tracing engine."""
