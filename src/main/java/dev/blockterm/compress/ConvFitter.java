package dev.blockterm.compress;

import dev.blockterm.decompose.BlockTerm;
import dev.blockterm.decompose.BlockTermAls;
import dev.blockterm.decompose.BlockTermConfig;
import dev.blockterm.decompose.FitResult;
import dev.blockterm.decompose.Format;
import dev.blockterm.onnx.ConvLayer;
import dev.blockterm.rewrite.ConvRewriter;
import dev.blockterm.tensor.Tensor;

/**
 * The settings of a Conv's block term ({@code N} blocks of ranks {@code R_out, R_in} over the
 * channels, the spatial mode whole) and their fit. Tucker is one block, CP is ranks 1 with the block
 * count as the CP rank (a depthwise middle convolution); TT has no three-convolution form and is
 * fitted as BT.
 */
final class ConvFitter {

    /** A setting: blocks and ranks {@code (R_out, R_in, R_spatial)}. */
    record Setting(int blocks, int[] ranks) {
        long parameters(ConvLayer layer) {
            return ConvRewriter.parameters(layer, blocks, ranks[0], ranks[1]);
        }

        double flops(ConvLayer layer) {
            return ConvRewriter.flopsPerPosition(layer, blocks, ranks[0], ranks[1]);
        }

        String ranksText() {
            return ranks[0] + "," + ranks[1];
        }
    }

    private final ConvLayer layer;
    private final CompressionOptions options;

    ConvFitter(ConvLayer layer, CompressionOptions options) {
        this.layer = layer;
        this.options = options;
    }

    private int[] sizes() {
        return new int[] {layer.outChannels(), layer.inChannels(), layer.kernelSize()};
    }

    private int[] ranks(int rOut, int rIn) {
        return Candidates.capped(sizes(), new int[] {rOut, rIn, layer.kernelSize()});
    }

    /** The user's blocks and ranks in the chosen format. */
    Setting explicit() {
        int[] r = options.ranks();
        if (r.length > 2) {
            throw new IllegalArgumentException("--rank: a Conv takes one rank or two (R_out,R_in), found " + r.length);
        }
        return switch (options.format()) {
            case TUCKER -> new Setting(1, ranks(r[0], r.length == 2 ? r[1] : r[0]));
            case CP -> new Setting(r[0], ranks(1, 1));
            default -> new Setting(options.blocks(), ranks(r[0], r.length == 2 ? r[1] : r[0]));
        };
    }

    /** The setting with the most parameters within the budget, or null. */
    Setting largestUnder(long budget) {
        Setting best = null;
        int max = Math.max(layer.outChannels(), layer.inChannels());
        int[] blockCounts = switch (options.format()) {
            case TUCKER -> new int[] {1};
            case CP -> new int[0];
            default -> new int[] {options.blocks(), 1};
        };
        for (int blocks : blockCounts) {
            for (int r = 1; r <= max; r++) {
                Setting s = new Setting(blocks, ranks(r, r));
                if (s.parameters(layer) > budget) {
                    break;
                }
                if (best == null || s.parameters(layer) > best.parameters(layer)) {
                    best = s;
                }
            }
        }
        if (options.format() == Format.CP) {
            long perRank = ConvRewriter.parameters(layer, 1, 1, 1);
            int n = (int) Math.min(Integer.MAX_VALUE, budget / perRank);
            best = n >= 1 ? new Setting(n, ranks(1, 1)) : null;
        }
        return best;
    }

    FitResult<BlockTerm> fit(Tensor kernel, Setting s) {
        return BlockTermAls.fit(kernel, new BlockTermConfig(s.blocks(), s.ranks(), options.maxSweeps(),
                options.tolerance(), options.seed(), options.init(), 1));
    }
}
