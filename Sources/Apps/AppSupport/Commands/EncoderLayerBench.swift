import Core
/// Placeholder until the encoder layer lands (filled in by the lead).
enum EncoderLayerBench { static func run(batch: Int, tokens: Int, repeats: Int) {} }
