package dev.blockterm.onnx;

/**
 * A {@code Gather} over a constant 2-D table along axis 0 (a token, position or type embedding):
 * {@code y[..., :] = table[ids[...], :]}. Read as a linear layer from one-hot ids: its weight is the
 * table ({@code rows x cols}), and with calibration inputs its input covariance is diagonal, the count
 * of each id.
 *
 * @param nodeIndex  the Gather node
 * @param name       the node's name (the table's where the node has none)
 * @param weightName the table's initializer
 * @param ids        the value holding the indices
 * @param rows       rows of the table (the vocabulary)
 * @param cols       its width
 * @param skipReason why it is not compressed, or null
 */
public record EmbeddingTable(int nodeIndex, String name, String weightName, String ids, int rows, int cols,
                             String skipReason) implements java.io.Serializable {

    public long parameters() {
        return (long) rows * cols;
    }

    public String weightShape() {
        return rows + "x" + cols;
    }
}
