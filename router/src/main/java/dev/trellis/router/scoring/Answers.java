package dev.trellis.router.scoring;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.Served;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The answers to one Score, ScoreStream or ScoreBatch call, row by row in request order: which
 * model-server answer ({@link ScoredColumns}) and which of its rows holds each row's scores, how
 * it was served and whether it carries its explanation. Filled by the scoring call's chunks (each
 * row once, before the call completes); read after that. Answers are encoded straight from here,
 * a row's ScoreResponse ({@link #encode}) or a ScoreBatchResponse ({@link #encodeBatch}).
 */
public final class Answers {
    private final ScoreRows rows;
    private final ScoredColumns[] columns;
    private final int[] positions;
    private final Served[] served;
    private final ByteString[] servedBytes;
    private final boolean[] explanation;

    Answers(ScoreRows rows) {
        this.rows = requireNonNull(rows, "rows is null");
        int n = rows.size();
        this.columns = new ScoredColumns[n];
        this.positions = new int[n];
        this.served = new Served[n];
        this.servedBytes = new ByteString[n];
        this.explanation = new boolean[n];
    }

    /** Row {@code row} is row {@code position} of {@code answer}. */
    void set(int row, ScoredColumns answer, int position, Served how, ByteString howEncoded, boolean explained) {
        columns[row] = answer;
        positions[row] = position;
        served[row] = how;
        servedBytes[row] = howEncoded;
        explanation[row] = explained;
    }

    public int size() {
        return columns.length;
    }

    /** How row {@code row} was served. */
    public Served served(int row) {
        return served[row];
    }

    /** Row {@code row}'s ScoreResponse in its wire form. */
    public EncodedMessage encode(int row) {
        return columns[row].encode(positions[row], explanation[row], servedBytes[row], rows.requestId(row));
    }

    /** Every row as a message (decoded from its {@link #encode encoding}). */
    public List<ScoreResponse> responses() {
        List<ScoreResponse> out = new ArrayList<>(columns.length);
        for (int i = 0; i < columns.length; i++) {
            out.add(columns[i].response(positions[i], explanation[i], servedBytes[i], rows.requestId(i)));
        }
        return out;
    }

    /** The ScoreBatchResponse of these rows in its wire form, built without a message object per row. */
    public EncodedMessage encodeBatch() {
        int n = columns.length;
        int[] explanationSizes = new int[n];
        int[] sizes = new int[n];
        long total = 0;
        for (int i = 0; i < n; i++) {
            explanationSizes[i] = columns[i].explanationSize(positions[i], explanation[i]);
            sizes[i] = columns[i].responseSize(positions[i], explanationSizes[i], servedBytes[i], rows.requestId(i));
            total += ScoredColumns.messageSize(sizes[i]);
        }
        if (total > Integer.MAX_VALUE - 16) {
            throw new IllegalStateException(
                    "a ScoreBatchResponse of " + total + " bytes is more than one message holds");
        }
        byte[] bytes = new byte[(int) total];
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        try {
            for (int i = 0; i < n; i++) {
                out.writeTag(1, WireFormat.WIRETYPE_LENGTH_DELIMITED);
                out.writeUInt32NoTag(sizes[i]);
                columns[i].writeResponse(out, positions[i], explanationSizes[i], servedBytes[i], rows.requestId(i));
            }
            out.checkNoSpaceLeft();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new EncodedMessage(bytes);
    }
}
