"""End-to-end compositions users run (installed as ``songprep.pipelines``).

Each module composes library pieces into one job; the local engine is the default. The Ray Data
engine arrives with the scale-out issue and runs the same :class:`songprep.pipeline.Pipeline`.
"""
