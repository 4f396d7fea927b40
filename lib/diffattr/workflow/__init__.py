"""Floor 5, workflow: the config, the content addressing, the store's layout, the DAG and the cost
forecast.
"""
