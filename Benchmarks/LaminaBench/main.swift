print("lamina-bench")
