"""Store (SQLite by default), batch runs, exports and the review web page."""
