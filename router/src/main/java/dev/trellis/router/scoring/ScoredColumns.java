package dev.trellis.router.scoring;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.TargetKind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * The scores of one ModelInfer answer, column by column as the model-server sent them, and their
 * encoding as the public {@code ScoreResponse} of any row straight to the wire form: no message
 * object per row, base score or contribution (a 5,000-row batch with explain would otherwise make
 * some 450,000 objects on the router, which every young collection then copies while they are in
 * flight). The encoding is byte for byte what protobuf-java writes for the same message: fields in
 * number order, proto3 defaults left out (tests compare the two). Immutable; thread-safe.
 */
public final class ScoredColumns {
    // the role of an explanation column: a feature's contribution, the MLP's term, the base value
    private static final byte CONTRIBUTION = 0;
    private static final byte MLP = 1;
    private static final byte BIAS = 2;
    private static final double INTERVAL_LEVEL = 0.95;

    private final int rows;
    private final TargetKind kind;
    private final float[] score;
    private final ByteString[] labels; // one per row (a handful of shared instances), or null
    private final float[] interval; // lower, upper per row, or null
    private final float[] agreement; // or null
    private final ByteString[] baseNames;
    private final float[] base; // baseNames.length per row, or null
    private final ByteString[] columnNames; // of the explanation columns
    private final byte[] columnRoles;
    private final float[] contributions; // columnNames.length per row, or null

    ScoredColumns(
            int rows,
            TargetKind kind,
            float[] score,
            ByteString[] labels,
            float[] interval,
            float[] agreement,
            List<String> baseNames,
            float[] base,
            List<String> contributionNames,
            float[] contributions) {
        this.rows = rows;
        this.kind = requireNonNull(kind, "kind is null");
        this.score = requireNonNull(score, "score is null");
        this.labels = labels;
        this.interval = interval;
        this.agreement = agreement;
        this.baseNames = utf8(base == null ? List.of() : baseNames);
        this.base = base;
        this.columnNames = utf8(contributions == null ? List.of() : contributionNames);
        this.columnRoles = new byte[columnNames.length];
        for (int j = 0; j < columnNames.length; j++) {
            String name = contributionNames.get(j);
            columnRoles[j] = name.equals("mlp") ? MLP : name.equals("bias") ? BIAS : CONTRIBUTION;
        }
        this.contributions = contributions;
    }

    private static ByteString[] utf8(List<String> names) {
        return names.stream().map(ByteString::copyFromUtf8).toArray(ByteString[]::new);
    }

    public int rows() {
        return rows;
    }

    public TargetKind targetKind() {
        return kind;
    }

    /** Row {@code row}'s score as the response carries it. */
    public double score(int row) {
        return score[row];
    }

    /** Row {@code row}'s label, "" when the answer had none. */
    public String label(int row) {
        return labels == null ? "" : labels[row].toStringUtf8();
    }

    /** Whether the answer explained its rows. */
    public boolean explained() {
        return contributions != null;
    }

    /**
     * The size of row {@code row}'s Explanation message without tag and length, or -1 when the
     * row is not to carry one (the answer has none, or {@code wanted} is false).
     */
    int explanationSize(int row, boolean wanted) {
        if (contributions == null || !wanted) {
            return -1;
        }
        try {
            return explanation(row, null);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // nothing is written
        }
    }

    /**
     * The size of row {@code row}'s ScoreResponse without tag and length.
     *
     * @param explanationSize from {@link #explanationSize}, -1 for none
     * @param served the row's encoded Served message
     * @param requestId the row's request id, "" for none
     */
    int responseSize(int row, int explanationSize, ByteString served, String requestId) {
        int size = doubleSize(1, score[row]);
        if (labels != null && !labels[row].isEmpty()) {
            size += CodedOutputStream.computeBytesSize(2, labels[row]);
        }
        if (interval != null) {
            size += messageSize(intervalSize(row));
        }
        if (agreement != null) {
            size += doubleSize(4, agreement[row]);
        }
        int k = baseNames.length;
        for (int j = 0; j < k; j++) {
            size += messageSize(baseScoreSize(j, base[row * k + j]));
        }
        if (explanationSize >= 0) {
            size += messageSize(explanationSize);
        }
        size += CodedOutputStream.computeBytesSize(7, served);
        if (!requestId.isEmpty()) {
            size += CodedOutputStream.computeStringSize(8, requestId);
        }
        if (kind != TargetKind.TARGET_KIND_UNSPECIFIED) {
            size += CodedOutputStream.computeEnumSize(9, kind.getNumber());
        }
        return size;
    }

    /** Writes row {@code row}'s ScoreResponse (without tag and length); arguments as for {@link #responseSize}. */
    void writeResponse(CodedOutputStream out, int row, int explanationSize, ByteString served, String requestId)
            throws IOException {
        writeDouble(out, 1, score[row]);
        if (labels != null && !labels[row].isEmpty()) {
            out.writeBytes(2, labels[row]);
        }
        if (interval != null) {
            out.writeTag(3, WireFormat.WIRETYPE_LENGTH_DELIMITED);
            out.writeUInt32NoTag(intervalSize(row));
            writeDouble(out, 1, interval[2 * row]);
            writeDouble(out, 2, interval[2 * row + 1]);
            writeDouble(out, 3, INTERVAL_LEVEL);
        }
        if (agreement != null) {
            writeDouble(out, 4, agreement[row]);
        }
        int k = baseNames.length;
        for (int j = 0; j < k; j++) {
            double v = base[row * k + j];
            out.writeTag(5, WireFormat.WIRETYPE_LENGTH_DELIMITED);
            out.writeUInt32NoTag(baseScoreSize(j, v));
            writeName(out, baseNames[j]);
            writeDouble(out, 2, v);
        }
        if (explanationSize >= 0) {
            out.writeTag(6, WireFormat.WIRETYPE_LENGTH_DELIMITED);
            out.writeUInt32NoTag(explanationSize);
            explanation(row, out);
        }
        out.writeBytes(7, served);
        if (!requestId.isEmpty()) {
            out.writeString(8, requestId);
        }
        if (kind != TargetKind.TARGET_KIND_UNSPECIFIED) {
            out.writeEnum(9, kind.getNumber());
        }
    }

    /**
     * Row {@code row}'s Explanation message (without tag and length): its size, and its bytes
     * written to {@code out} unless that is null (one pass for the size, one for the bytes).
     */
    private int explanation(int row, CodedOutputStream out) throws IOException {
        int k = columnNames.length;
        int size = 0;
        double mlpTerm = 0;
        double baseValue = 0;
        double logit = 0;
        for (int j = 0; j < k; j++) {
            double v = contributions[row * k + j];
            logit += v;
            switch (columnRoles[j]) {
                case MLP -> mlpTerm = v;
                case BIAS -> baseValue = v;
                default -> {
                    int body = contributionSize(j, v);
                    size += messageSize(body);
                    if (out != null) {
                        out.writeTag(1, WireFormat.WIRETYPE_LENGTH_DELIMITED);
                        out.writeUInt32NoTag(body);
                        writeName(out, columnNames[j]);
                        writeDouble(out, 2, v);
                    }
                }
            }
        }
        if (out != null) {
            writeDouble(out, 2, baseValue);
            writeDouble(out, 3, mlpTerm);
            writeDouble(out, 4, logit);
        }
        return size + doubleSize(2, baseValue) + doubleSize(3, mlpTerm) + doubleSize(4, logit);
    }

    /** Row {@code row}'s ScoreResponse in its wire form (Score and ScoreStream answer one row at a time). */
    EncodedMessage encode(int row, boolean explanation, ByteString served, String requestId) {
        int explanationSize = explanationSize(row, explanation);
        byte[] bytes = new byte[responseSize(row, explanationSize, served, requestId)];
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        try {
            writeResponse(out, row, explanationSize, served, requestId);
            out.checkNoSpaceLeft();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new EncodedMessage(bytes);
    }

    /** Row {@code row} as a message: its {@link #encode encoding}, parsed. */
    public ScoreResponse response(int row, boolean explanation, ByteString served, String requestId) {
        try {
            return ScoreResponse.parseFrom(
                    encode(row, explanation, served, requestId).bytes());
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("the router's own encoding of a ScoreResponse does not parse", e);
        }
    }

    private int intervalSize(int row) {
        return doubleSize(1, interval[2 * row]) + doubleSize(2, interval[2 * row + 1]) + doubleSize(3, INTERVAL_LEVEL);
    }

    private int baseScoreSize(int column, double value) {
        return nameSize(baseNames[column]) + doubleSize(2, value);
    }

    private int contributionSize(int column, double value) {
        return nameSize(columnNames[column]) + doubleSize(2, value);
    }

    /** Field 1 of BaseScore and FeatureContribution: the model or feature name. */
    private static int nameSize(ByteString name) {
        return name.isEmpty() ? 0 : CodedOutputStream.computeBytesSize(1, name);
    }

    private static void writeName(CodedOutputStream out, ByteString name) throws IOException {
        if (!name.isEmpty()) {
            out.writeBytes(1, name);
        }
    }

    /** A nested message's tag, length and body. */
    static int messageSize(int bodySize) {
        return 1 + CodedOutputStream.computeUInt32SizeNoTag(bodySize) + bodySize;
    }

    /** proto3: a double field equal to +0.0 is not written. */
    private static int doubleSize(int field, double value) {
        return Double.doubleToRawLongBits(value) != 0 ? CodedOutputStream.computeDoubleSize(field, value) : 0;
    }

    private static void writeDouble(CodedOutputStream out, int field, double value) throws IOException {
        if (Double.doubleToRawLongBits(value) != 0) {
            out.writeDouble(field, value);
        }
    }
}
