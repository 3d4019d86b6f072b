"""Filing evidence between compartments: an admin moves a source document to a case's
compartment or the shared pool, and what blind convergence matches on moves with it."""
