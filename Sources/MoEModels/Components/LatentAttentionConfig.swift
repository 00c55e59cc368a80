/// The shapes of multi-head latent attention (DeepSeek-V2/V3, GLM-4.7-Flash): queries through an
/// optional low-rank pair (`q_lora_rank`), keys and values through a shared latent of `kv_lora_rank`
/// plus one rotary key of `qk_rope_head_dim` shared by every head.
public struct LatentAttentionConfig: Sendable, Equatable {
    /// nil: queries come from one `q_proj` (V2-Lite); else `q_a_proj` → RMSNorm → `q_b_proj`.
    public var qLoraRank: Int?
    public var kvLoraRank: Int
    public var qkNopeHeadDim: Int
    public var qkRopeHeadDim: Int
    public var vHeadDim: Int

    public init(qLoraRank: Int?, kvLoraRank: Int, qkNopeHeadDim: Int, qkRopeHeadDim: Int, vHeadDim: Int) {
        self.qLoraRank = qLoraRank
        self.kvLoraRank = kvLoraRank
        self.qkNopeHeadDim = qkNopeHeadDim
        self.qkRopeHeadDim = qkRopeHeadDim
        self.vHeadDim = vHeadDim
    }

    /// Query and key channels per head.
    public var qkHeadDim: Int { qkNopeHeadDim + qkRopeHeadDim }
}
