/// The CompVis (`ldm` `AutoencoderKL`) names of the diffusers VAE encoder's modules and
/// `quant_conv`, generated from the config. Matches diffusers `convert_ldm_vae_checkpoint`
/// (loaders/single_file_utils.py), read in the other direction; the mid-block attention's
/// 1x1-conv weights [C, C, 1, 1] are read as the linear [C, C] diffusers uses.
public func compVisVAEEncoderTable(_ config: VAEConfig, storedPrefix: String = "first_stage_model.") -> ModuleRenameTable {
    var table = [
        "quant_conv": "quant_conv",
        "encoder.conv_in": "encoder.conv_in", "encoder.conv_out": "encoder.conv_out",
        "encoder.conv_norm_out": "encoder.norm_out",
        "encoder.mid_block.attentions.0.group_norm": "encoder.mid.attn_1.norm",
        "encoder.mid_block.attentions.0.to_q": "encoder.mid.attn_1.q",
        "encoder.mid_block.attentions.0.to_k": "encoder.mid.attn_1.k",
        "encoder.mid_block.attentions.0.to_v": "encoder.mid.attn_1.v",
        "encoder.mid_block.attentions.0.to_out.0": "encoder.mid.attn_1.proj_out",
    ]
    func resnet(_ diffusers: String, _ compVis: String) {
        table[diffusers] = compVis
        table["\(diffusers).conv_shortcut"] = "\(compVis).nin_shortcut"
    }
    resnet("encoder.mid_block.resnets.0", "encoder.mid.block_1")
    resnet("encoder.mid_block.resnets.1", "encoder.mid.block_2")
    for level in 0..<config.levels {
        for layer in 0..<config.layersPerBlock {
            resnet("encoder.down_blocks.\(level).resnets.\(layer)", "encoder.down.\(level).block.\(layer)")
        }
        if level < config.levels - 1 {
            table["encoder.down_blocks.\(level).downsamplers.0.conv"] = "encoder.down.\(level).downsample.conv"
        }
    }
    return ModuleRenameTable(storedPrefix: storedPrefix, modules: table)
}
