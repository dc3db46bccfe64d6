"""Oversight of the audit trail: the auditor's searches and extracts."""
