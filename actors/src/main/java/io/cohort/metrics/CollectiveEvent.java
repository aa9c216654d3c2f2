package io.cohort.metrics;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/**
 * JFR event of one collective, from the coordinator's handling of the call until every rank completed
 * (or it failed). Created only while the event is enabled in the recording.
 */
@Name("io.cohort.Collective")
@Label("Cohort Collective")
@Category({"Cohort"})
@Description("A collective operation of a Cohort group")
public final class CollectiveEvent extends Event {
    @Label("Collective")
    public String collective;

    @Label("Backend")
    public String backend;

    @Label("Algorithm")
    public String algorithm;

    @Label("Bytes")
    @DataAmount
    public long bytes;

    @Label("Ranks")
    public int ranks;

    @Label("Group")
    public int group;

    @Label("Sequence Number")
    public long seq;

    @Label("Succeeded")
    public boolean succeeded;
}
