"""Video clips, frame by frame: recognise and check a clip, decode its frames upright, track faces
across frames, and encode clean H.264 MP4 outputs.

Like the rest of ``processors``, nothing here knows about the database or the workspace; the
pipeline's video flow (``pipeline/video``) decides and records.
"""
