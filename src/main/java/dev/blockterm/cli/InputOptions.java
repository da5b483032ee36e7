package dev.blockterm.cli;

import dev.blockterm.calibrate.ImageFeeds;
import dev.blockterm.calibrate.ImageOptions;
import dev.blockterm.calibrate.TextFeeds;
import dev.blockterm.onnx.EmbeddingTable;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.runtime.InputShapes;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;
import picocli.CommandLine.Option;

/**
 * What a model is fed besides {@code .npy} arrays (text, images) and the sizes of its dynamic input
 * axes: the options shared by {@code compress}, {@code inspect} and {@code verify}. Each command keeps
 * its own {@code .npy} option ({@code --calibration}, {@code --inputs}); one source of inputs at a time.
 */
final class InputOptions {

    @Option(names = "--input-shape", paramLabel = "[NAME=]D1xD2x...",
            description = "the size of a model input's dynamic axes wherever inputs are generated (the quality "
                    + "measurement, verify's random inputs, the convolutions' input shapes for timing, the size "
                    + "images are resized to); repeat per input; NAME= may be left out for a single-input model. A "
                    + "dynamic first axis is the batch: generated inputs set their own row count there. Without "
                    + "it, a convolutional model's dynamic spatial axes get the first size it runs at")
    List<String> inputShapes = new ArrayList<>();

    @Option(names = "--calibration-text", paramLabel = "FILE",
            description = "inputs from text, one per line, tokenized with --tokenizer into the model's input_ids, "
                    + "attention_mask, token_type_ids (those it takes), padded to the longest")
    Path text;

    @Option(names = "--tokenizer", paramLabel = "tokenizer.json",
            description = "the model's Hugging Face tokenizer file, for --calibration-text")
    Path tokenizer;

    @Option(names = "--max-length", paramLabel = "T", description = "with --calibration-text: the longest sequence "
            + "kept, in tokens (default: the model's fixed sequence length, else " + TextFeeds.DEFAULT_MAX_LENGTH + ")")
    Integer maxLength;

    @Option(names = "--calibration-images", paramLabel = "DIR",
            description = "inputs from the PNG and JPEG images in DIR (by file name), resized to the model input's "
                    + "size (bilinear), scaled to [0,1], normalized by --mean and --std; NCHW (NHWC where the input's "
                    + "last axis holds the channels), grayscale for a one-channel input")
    Path images;

    @Option(names = "--mean", paramLabel = "R,G,B", split = ",", hideParamSyntax = true,
            description = "with --calibration-images: subtracted per colour from the [0,1] values (default: 0)")
    double[] mean;

    @Option(names = "--std", paramLabel = "R,G,B", split = ",", hideParamSyntax = true,
            description = "with --calibration-images: divides per colour after --mean (default: 1)")
    double[] std;

    @Option(names = "--channel-order", paramLabel = "rgb|bgr",
            description = "with --calibration-images: the colours' order along the model's channels (default: rgb)")
    String channelOrder;

    /** The sizes given, checked against the model's inputs. */
    InputShapes shapes(Onnx.ModelProto model) {
        InputShapes shapes = InputShapes.parse(inputShapes);
        shapes.check(model);
        return shapes;
    }

    /** Whether any source of inputs is given: the command's {@code .npy} arrays, text or images. */
    boolean given(List<String> npy) {
        return (npy != null && !npy.isEmpty()) || text != null || images != null;
    }

    /**
     * The inputs the options give, or null where none is given: the command's {@code .npy} arrays
     * ({@code npy}, given as {@code npyOption}), the text, or the images; more than one is refused.
     * {@code graph} is the model's, read already: text ids are checked against its embedding tables.
     */
    Map<String, NpyArray> feeds(Path model, Onnx.GraphProto graph, InputShapes shapes, List<String> npy,
                                String npyOption, int threads) {
        boolean arrays = npy != null && !npy.isEmpty();
        if ((arrays ? 1 : 0) + (text != null ? 1 : 0) + (images != null ? 1 : 0) > 1) {
            throw new UsageError(npyOption + ", --calibration-text and --calibration-images: give one");
        }
        if (text == null && (tokenizer != null || maxLength != null)) {
            throw new UsageError((tokenizer != null ? "--tokenizer" : "--max-length")
                    + ": applies to --calibration-text, which is not given");
        }
        if (text != null && tokenizer == null) {
            throw new UsageError("--calibration-text: needs --tokenizer tokenizer.json (the model's "
                    + "Hugging Face tokenizer file)");
        }
        if (images == null && (mean != null || std != null || channelOrder != null)) {
            throw new UsageError((mean != null ? "--mean" : std != null ? "--std" : "--channel-order")
                    + ": applies to --calibration-images, which is not given");
        }
        if (arrays) {
            return Feeds.read(model, npy, npyOption, threads);
        }
        if (text == null && images == null) {
            return null;
        }
        ImageOptions imageOptions = images == null ? null : imageOptions();
        List<ModelRunner.Input> inputs;
        try (ModelRunner runner = new ModelRunner(model, threads)) {
            inputs = shapes.apply(runner.inputs());
        }
        String option = text != null ? "--calibration-text" : "--calibration-images";
        try {
            if (images != null) {
                return ImageFeeds.forModel(images, imageOptions, inputs);
            }
            Map<String, NpyArray> feeds = TextFeeds.forModel(text, tokenizer, maxLength, inputs);
            for (EmbeddingTable t : Graphs.embeddingTables(graph, Set.of())) {
                TextFeeds.requireInVocabulary(feeds, tokenizer, t.ids(), t.rows(), t.weightName());
            }
            return feeds;
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(option + ": " + e.getMessage(), e);
        }
    }

    private ImageOptions imageOptions() {
        try {
            return new ImageOptions(mean != null ? mean : ImageOptions.DEFAULT.mean(),
                    std != null ? std : ImageOptions.DEFAULT.std(),
                    channelOrder != null ? ImageOptions.ChannelOrder.parse(channelOrder) : ImageOptions.ChannelOrder.RGB);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--" + e.getMessage().replace("channel order", "channel-order"), e);
        }
    }
}
