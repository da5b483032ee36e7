package dev.blockterm.compress;

import dev.blockterm.decompose.LowRank;
import dev.blockterm.tensor.Matrix;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * A curve's bases ({@link LowRank.Bases}) in a staging file, read back a prefix at a time: a fit
 * (here or on a cluster) writes them, the process that assembles the model reads the first
 * {@code r} columns it chose, and no process holds every layer's bases. The file: an 8-byte
 * magic, {@code n}, {@code kept} and whether Q is there (three ints), then P and Q column by column
 * as little-endian doubles (a prefix of columns is a prefix of the bytes). Exact: the doubles are
 * those the fit computed, so a staged curve gives the factors the held one does.
 */
final class StagedBases implements LowRank.Bases {

    private static final long MAGIC = 0x3153455341425442L; // "BTBASES1", little-endian
    private static final int HEADER = 8 + 3 * 4;

    private final Path file;
    private final int n;
    private final int kept;
    private final boolean hasQ;

    private StagedBases(Path file, int n, int kept, boolean hasQ) {
        this.file = file;
        this.n = n;
        this.kept = kept;
        this.hasQ = hasQ;
    }

    /** Writes {@code bases} to {@code file} (whole or not at all: a retried fit replaces it with the same bytes). */
    static void write(Path file, LowRank.Bases bases) {
        Matrix p = bases.p(bases.kept());
        Matrix q = bases.q(bases.kept());
        Path temp;
        try {
            temp = Files.createTempFile(file.toAbsolutePath().getParent(), file.getFileName() + ".", ".tmp");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the staged bases " + file + " (" + e.getMessage() + ")", e);
        }
        try (FileChannel out = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer header = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
            header.putLong(MAGIC).putInt(p.rows()).putInt(p.cols()).putInt(q == null ? 0 : 1).flip();
            writeFully(out, header);
            writeColumns(out, p);
            if (q != null) {
                writeColumns(out, q);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the staged bases " + file + " (" + e.getMessage() + ")", e);
        }
        try {
            try {
                Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (java.nio.file.AtomicMoveNotSupportedException e) {
                Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING); // some network file systems
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot move the staged bases into place " + file, e);
        }
    }

    /** The bases staged in {@code file} (read again at each truncation asked for). */
    static StagedBases open(Path file) {
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer header = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
            while (header.hasRemaining() && in.read(header) >= 0) {
                // fill
            }
            header.flip();
            if (header.remaining() < HEADER || header.getLong() != MAGIC) {
                throw new IllegalStateException(file + ": not staged bases");
            }
            int n = header.getInt();
            int kept = header.getInt();
            boolean hasQ = header.getInt() != 0;
            long expected = HEADER + (hasQ ? 2L : 1L) * n * kept * 8;
            if (n < 0 || kept < 0 || in.size() != expected) {
                throw new IllegalStateException(file + ": staged bases of " + in.size() + " bytes, expected " + expected);
            }
            return new StagedBases(file, n, kept, hasQ);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the staged bases " + file + " (" + e.getMessage() + ")", e);
        }
    }

    @Override
    public Matrix p(int r) {
        return columns(0, r);
    }

    @Override
    public Matrix q(int r) {
        return hasQ ? columns(kept, r) : null;
    }

    @Override
    public int kept() {
        return kept;
    }

    /** Columns {@code [0, r)} of the matrix whose column 0 is column {@code first} of the file. */
    private Matrix columns(int first, int r) {
        if (r < 0 || r > kept) {
            throw new IllegalArgumentException("rank: expected 0.." + kept + ", found " + r);
        }
        double[] data = new double[n * r];
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer column = ByteBuffer.allocate(n * 8).order(ByteOrder.LITTLE_ENDIAN);
            for (int k = 0; k < r; k++) {
                column.clear();
                long at = HEADER + (long) (first + k) * n * 8;
                while (column.hasRemaining()) {
                    int read = in.read(column, at + column.position());
                    if (read < 0) {
                        throw new IllegalStateException(file + ": staged bases cut short");
                    }
                }
                column.flip();
                for (int i = 0; i < n; i++) {
                    data[i * r + k] = column.getDouble();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the staged bases " + file + " (" + e.getMessage() + ")", e);
        }
        return new Matrix(n, r, data);
    }

    private static void writeColumns(FileChannel out, Matrix m) throws IOException {
        ByteBuffer column = ByteBuffer.allocate(m.rows() * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int k = 0; k < m.cols(); k++) {
            column.clear();
            for (int i = 0; i < m.rows(); i++) {
                column.putDouble(m.data()[i * m.cols() + k]);
            }
            column.flip();
            writeFully(out, column);
        }
    }

    private static void writeFully(FileChannel out, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            out.write(buffer);
        }
    }
}
