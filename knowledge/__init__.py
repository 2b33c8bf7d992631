"""Articles, their index and search; quiet by default (LanceDB's Rust WARN lines are for developers)."""

import os

os.environ.setdefault("LANCEDB_LOG", "error")  # read once, when lancedb is first imported
