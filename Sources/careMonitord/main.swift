print("careMonitord: commands are being wired")
