print("careMonitord")
