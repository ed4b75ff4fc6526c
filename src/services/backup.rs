//! Backups and restores of backing services (issue #10).
