"""Versioned prompt templates (plain files), packaged so installed copies find them."""
