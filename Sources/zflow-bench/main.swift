print("zflow-bench: under construction")
