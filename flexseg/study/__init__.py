"""Long, resumable experiments: jobs that train and evaluate, their costs, their reports."""
