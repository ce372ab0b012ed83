// SensorIngest
