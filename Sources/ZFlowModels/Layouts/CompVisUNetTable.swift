/// The CompVis (`ldm` `UNetModel`) names of a diffusers `UNet2DConditionModel`'s modules,
/// generated from the config. Matches diffusers `convert_ldm_unet_checkpoint`
/// (loaders/single_file_utils.py), read in the other direction.
public func compVisUNetTable(_ config: UNetConfig, storedPrefix: String = "model.diffusion_model.") -> ModuleRenameTable {
    var table = [
        "time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
        "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2",
    ]
    func resnet(_ diffusers: String, _ compVis: String) {
        for (inner, stored) in compVisResnetNames { table["\(diffusers).\(inner)"] = "\(compVis).\(stored)" }
    }
    let perLevel = config.layersPerBlock + 1
    for level in 0..<config.levels {
        for layer in 0..<config.layersPerBlock {
            let block = "input_blocks.\(level * perLevel + layer + 1)"
            resnet("down_blocks.\(level).resnets.\(layer)", "\(block).0")
            table["down_blocks.\(level).attentions.\(layer)"] = "\(block).1"
        }
        if level < config.levels - 1 {
            table["down_blocks.\(level).downsamplers.0.conv"] = "input_blocks.\((level + 1) * perLevel).0.op"
        }
    }
    resnet("mid_block.resnets.0", "middle_block.0")
    table["mid_block.attentions.0"] = "middle_block.1"
    resnet("mid_block.resnets.1", "middle_block.2")
    for index in 0..<config.levels {
        for layer in 0..<perLevel {
            let block = "output_blocks.\(index * perLevel + layer)"
            resnet("up_blocks.\(index).resnets.\(layer)", "\(block).0")
            table["up_blocks.\(index).attentions.\(layer)"] = "\(block).1"
        }
        if index < config.levels - 1 {
            // The upsampler follows the attention when the block has one.
            let slot = config.upBlockTypes[index] == "CrossAttnUpBlock2D" ? 2 : 1
            table["up_blocks.\(index).upsamplers.0.conv"] = "output_blocks.\(index * perLevel + perLevel - 1).\(slot).conv"
        }
    }
    return ModuleRenameTable(storedPrefix: storedPrefix, modules: table)
}

/// diffusers `ResnetBlock2D` sub-modules -> CompVis `ResBlock` sub-modules.
private let compVisResnetNames = [
    ("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
    ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection"),
]
