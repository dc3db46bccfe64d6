"""The patient registry's record quality: duplicate detection, the supervisor's worklist, merge
and unmerge."""
