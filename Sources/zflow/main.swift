print("zflow: under construction")
