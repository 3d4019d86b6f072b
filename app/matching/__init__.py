"""Matching between compartments on keyed hashes (FIU.net's anonymised matching, in one service).

Each case-filed source document's account keys, party identity numbers and party names are
normalised and hashed with HMAC-SHA256 under a server secret (`app.matching.secret`); the match
table holds the digests alone, so it reveals nothing readable, and without the secret nobody can
test a guess against it. The ingest paths call `index_document` in their unit of work; the
convergence domain reads the matches. This package imports no domain that stores documents, so
that every one of them may call it.
"""
