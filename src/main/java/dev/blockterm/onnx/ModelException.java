package dev.blockterm.onnx;

/** A model or file that cannot be used, with a message meant for the user as it stands. */
public class ModelException extends RuntimeException {

    public ModelException(String message) {
        super(message);
    }

    public ModelException(String message, Throwable cause) {
        super(message, cause);
    }
}
