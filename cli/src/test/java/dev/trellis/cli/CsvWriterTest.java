package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** What {@link CsvWriter} writes, commons-csv and {@link CsvScanner} read back as it was. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class CsvWriterTest {
    private static final List<List<String>> RECORDS = List.of(
            List.of("plain", "with, comma", "say \"hi\"", "\"", "two\nlines", "cr\rhere", "crlf\r\nhere"),
            List.of("", "", ""),
            List.of(""),
            List.of(" leading", "trailing ", "\ttab", "in side", "ünïcødé 🎯", "#hash", "'quote'"),
            List.of("x", ""));

    @Test
    void whatIsWritten_readsBackTheSame() throws Exception {
        StringWriter text = new StringWriter();
        try (CsvWriter writer = new CsvWriter(text)) {
            for (List<String> record : RECORDS) {
                writer.record(record);
            }
        }

        List<List<String>> commons = new ArrayList<>();
        for (CSVRecord record : CSVFormat.RFC4180.parse(new StringReader(text.toString()))) {
            commons.add(record.toList());
        }
        assertThat(commons).isEqualTo(RECORDS);

        List<List<String>> scanned = new ArrayList<>();
        try (CsvScanner scanner =
                new CsvScanner(new ByteArrayInputStream(text.toString().getBytes(StandardCharsets.UTF_8)))) {
            for (List<String> record = scanner.nextStrings(); record != null; record = scanner.nextStrings()) {
                scanned.add(record);
            }
        }
        assertThat(scanned).isEqualTo(RECORDS);
    }

    @Test
    void plainFieldsAndNumbers_areWrittenAsTheyAre() throws Exception {
        StringWriter text = new StringWriter();
        try (CsvWriter writer = new CsvWriter(text)) {
            writer.field("lead-1");
            writer.field(0.8125);
            writer.field(-0.0);
            writer.field(Double.NaN);
            writer.field("hot");
            writer.endRecord();
        }

        assertThat(text.toString()).isEqualTo("lead-1,0.8125,-0.0,NaN,hot\n");
    }
}
