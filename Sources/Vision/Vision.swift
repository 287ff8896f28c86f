public enum VisionModule {}
