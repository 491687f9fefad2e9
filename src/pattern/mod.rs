//! Mini-notation patterns: parsing and per-cycle events; control thread.
