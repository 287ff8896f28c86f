import Core
import Foundation

/// Builds a backbone from its recipe (what an adapter folder records), so `eval` and `predict`
/// rebuild exactly the model that was trained.
public enum BackboneFactory {
    /// The backbone a recipe describes ("ast" or "whisper").
    public static func make(_ recipe: BackboneRecipe) throws -> any PETLBackbone {
        switch recipe.kind {
        case "ast":
            let policy = ASTPositionPolicy(rawValue: recipe.positionPolicy ?? "interpolate") ?? .interpolate
            if let path = recipe.modelPath {
                return try ASTBackbone(directory: URL(fileURLWithPath: path), maxLength: recipe.frames, positionPolicy: policy)
            }
            return try ASTBackbone(randomShapes: recipe.shapes ?? "tiny", maxLength: recipe.frames, seed: recipe.seed ?? 0)
        case "whisper":
            return try WhisperBackbone(recipe: recipe)
        default:
            throw ASTError.badConfig(file: "adapter.json", "unknown backbone kind '\(recipe.kind)' (expected ast or whisper)")
        }
    }
}
