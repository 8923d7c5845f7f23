//! NDJSON over a child process's stdio.
