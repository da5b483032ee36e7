package dev.blockterm.onnx;

/**
 * A constant weight that ONNX runtimes cannot take in factored form (an {@code LSTM}, {@code GRU}
 * or {@code RNN} {@code W} or {@code R}, or any initializer named by {@code --weights}, such as an
 * embedding table under {@code Gather}). It is read as a matrix {@code rows x cols} (all leading
 * dimensions by the last), stored factored and rebuilt by a constant subgraph at load.
 *
 * @param name        the initializer
 * @param use         how it is used, e.g. {@code LSTM '/lstm/LSTM' input W}
 * @param label       the report's op column: {@code LSTM:W}, or {@code weight} for {@code --weights}
 * @param dims        its shape
 * @param rows        product of all dimensions but the last
 * @param cols        the last dimension
 * @param skipReason  why it cannot be compressed, or null
 * @param node        the recurrent node reading it, or -1
 * @param inputWeight whether it is that node's input weight {@code W} (multiplying the input X)
 */
public record StoredWeight(String name, String use, String label, long[] dims, int rows, int cols, String skipReason, int node,
                           boolean inputWeight) implements java.io.Serializable {

    public StoredWeight {
        dims = dims.clone();
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    public long parameters() {
        return (long) rows * cols;
    }

    public String shape() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < dims.length; i++) {
            sb.append(i == 0 ? "" : "x").append(dims[i]);
        }
        return sb.toString();
    }
}
