"""Video clips through the pipeline: analyse a clip (faces on every frame, tracks identified and decided
per channel), render its released channels and review preview, and record its tracks."""
