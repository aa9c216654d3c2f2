package io.cohort.select;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cohort.topology.TopologyFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** docs/algorithms.md shows the selection table of reference.conf, not an older one. */
class AlgorithmsDocTest {

    @Test
    void documentedTableMirrorsReferenceConf() throws IOException {
        Path doc = TopologyFiles.directory().getParent().getParent().resolve("docs").resolve("algorithms.md");
        String text = Files.readString(doc);
        String begin = "<!-- selection-table -->\n";
        int from = text.indexOf(begin) + begin.length();
        int to = text.indexOf("<!-- /selection-table -->");
        assertEquals(TableSelector.defaults().table().toMarkdown(), text.substring(from, to),
                "update docs/algorithms.md to the table of reference.conf (SelectionTable.toMarkdown)");
    }
}
