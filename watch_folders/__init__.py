"""The inbox watcher: takes photos dropped into inbox/ once they are complete and runs each through the pipeline."""
