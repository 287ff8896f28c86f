public enum TextModule {}
