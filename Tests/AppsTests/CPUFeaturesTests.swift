@testable import AppSupport
import Testing

/// The OpenBLAS kernel the launcher asks for: 512-bit on any x86 with AVX-512 F/BW/VL, 256-bit on
/// AVX2 + FMA, none otherwise (OpenBLAS decides); the vendor does not matter.
@Suite struct CPUFeaturesTests {
    @Test func kernelFollowsTheVectorWidthNotTheVendor() {
        let avx512: Set<String> = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl"]
        #expect(CPUFeatures(vendor: "GenuineIntel", flags: avx512).preferredOpenBLASCore == "SkylakeX")
        #expect(CPUFeatures(vendor: "AuthenticAMD", flags: avx512).preferredOpenBLASCore == "SkylakeX")
        #expect(CPUFeatures(vendor: "AuthenticAMD", flags: ["avx2", "fma", "avx512f"]).preferredOpenBLASCore == "Haswell")  // no BW/VL
        #expect(CPUFeatures(vendor: "AuthenticAMD", flags: ["avx2", "fma"]).preferredOpenBLASCore == "Haswell")
        #expect(CPUFeatures(vendor: "GenuineIntel", flags: ["sse4_2", "avx"]).preferredOpenBLASCore == nil)
    }
}
