"""Everything that turns pixels into masks, mattes and backgrounds, behind small role interfaces.

Roles (models/base.py): Segmenter (clicks -> mask), Matter (first mask -> alpha per frame,
streaming) and BackgroundSource (models/backgrounds/). Each implementation is one file plus one
line in models/registry.py.
"""
