/// Pointwise nonlinearities used by transformer feed-forward blocks, named as in the
/// Hugging Face configs (`hidden_act`).
public enum Activation: String, Sendable, CaseIterable, Codable {
    /// Exact erf GELU (BERT, ViT, DINOv2, Whisper: "gelu").
    case gelu
    /// Tanh-approximated GELU ("gelu_new", "gelu_pytorch_tanh").
    case geluTanh
    case relu
    /// x·σ(x) ("silu", "swish").
    case silu
    /// CLIP's x·σ(1.702x) ("quick_gelu").
    case quickGELU

    /// Maps a Hugging Face `hidden_act` / `activation_function` string; nil when unknown.
    public init?(huggingFace name: String) {
        switch name {
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "relu": self = .relu
        case "silu", "swish": self = .silu
        case "quick_gelu": self = .quickGELU
        default: return nil
        }
    }

    /// Applies the activation elementwise.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .gelu: return x.gelu()
        case .geluTanh: return x.geluTanh()
        case .relu: return x.relu()
        case .silu: return x.silu()
        case .quickGELU: return x * (x * 1.702).sigmoid()
        }
    }
}

/// The transformer MLP: `fc2(dropout(act(fc1(x))))` with two `Linear`s. The linears are
/// ordinary adapter-capable layers; their checkpoint keys are chosen by whoever places them
/// in a module tree (`intermediate.dense`/`output.dense` for BERT, `mlp.fc1`/`mlp.fc2` for
/// CLIP). Standalone, the children are named by `inKey` / `outKey`.
///
/// ```swift
/// let mlp = try FeedForward(dim: 32, hidden: 64, activation: .gelu, at: root.pp("mlp"))
/// let y = mlp(x)
/// ```
public final class FeedForward: Module {
    public let fc1: Linear
    public let fc2: Linear
    public let activation: Activation
    /// Dropout after the activation (Whisper's `activation_dropout`; 0 elsewhere).
    public let activationDropout: Dropout
    public let inKey: String
    public let outKey: String

    /// Wraps existing layers (`fc1 [hidden, dim]`, `fc2 [dim, hidden]`).
    public init(fc1: Linear, fc2: Linear, activation: Activation, activationDropout: Dropout = Dropout(p: 0, seed: 0),
                inKey: String = "fc1", outKey: String = "fc2") {
        precondition(fc1.outFeatures == fc2.inFeatures, "FeedForward: fc1 \(fc1.weight.shape) does not feed fc2 \(fc2.weight.shape)")
        self.fc1 = fc1
        self.fc2 = fc2
        self.activation = activation
        self.activationDropout = activationDropout
        self.inKey = inKey
        self.outKey = outKey
        super.init()
    }

    /// Builds `path.<inKey>` and `path.<outKey>` (keys may be dotted).
    public convenience init(dim: Int, hidden: Int, activation: Activation, bias: Bool = true,
                            activationDropout: Float = 0, seed: UInt64 = 0,
                            inKey: String = "fc1", outKey: String = "fc2", at path: ParamPath) throws {
        let a = try Linear(inFeatures: dim, outFeatures: hidden, bias: bias, at: path.pp(inKey))
        let b = try Linear(inFeatures: hidden, outFeatures: dim, bias: bias, at: path.pp(outKey))
        self.init(fc1: a, fc2: b, activation: activation, activationDropout: Dropout(p: activationDropout, seed: seed),
                  inKey: inKey, outKey: outKey)
    }

    /// The two linears under `inKey` / `outKey`, as `(path, module)` leaves.
    public var leaves: [(String, Module)] { [(inKey, fc1), (outKey, fc2)] }

    override public func namedChildren() -> [(String, Module)] { ModuleTree(leaves).namedChildren() }

    /// Forward in this module's own mode.
    public func callAsFunction(_ x: Tensor) -> Tensor { forward(x, training: isTraining) }

    /// Forward with dropout controlled by `training` (an owning layer passes its mode).
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        fc2(activationDropout.apply(activation(fc1(x)), training: training))
    }
}
