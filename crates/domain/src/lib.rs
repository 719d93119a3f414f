//! Pure logic of support-access. No I/O.
