package dev.blockterm.cli;

/**
 * Options that do not go together, or one given without the option it needs: a usage error, which
 * {@link Main} reports as picocli reports a misspelt option (the message, then where help is; exit 2).
 * A value that is wrong in itself, or a file that cannot be used, is an {@link IllegalArgumentException}
 * (one line, exit 1).
 */
final class UsageError extends IllegalArgumentException {

    UsageError(String message) {
        super(message);
    }
}
