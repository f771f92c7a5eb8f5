"""Model test cases (`leadscore test`): YAML cases run against a model by the pure scorer."""
