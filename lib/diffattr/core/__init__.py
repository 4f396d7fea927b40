"""Floor 0, the ground: plain data, files and numbers (atomic writes, hashing, the stage registry, the
typed settings, the statistics, the data sets); nothing of the science.
"""
