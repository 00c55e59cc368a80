extension ModelFamily {
    /// Every family ExpertLock implements, one line each.
    static let registered: [any FamilyDefinition.Type] = [
        Mixtral.self,
        Qwen2Moe.self,
        Qwen3Moe.self,
        Olmoe.self,
        DeepseekV3.self,
        Glm4Moe.self,
        DeepseekV2.self,
        Glm4MoeLite.self,
        MinimaxM2.self,
        Ernie45Moe.self,
        GptOss.self,
        Llama4Text.self,
        Qwen3Next.self,
        Qwen35Moe.self,
    ]
}
