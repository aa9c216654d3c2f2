package io.cohort.cuda.topology;

import static jcuda.driver.JCudaDriver.cuDeviceGetP2PAttribute;

import io.cohort.cuda.Cu;
import io.cohort.cuda.CudaConfig;
import io.cohort.cuda.CudaDevice;
import io.cohort.device.Device;
import io.cohort.topology.Link;
import io.cohort.topology.LinkKind;
import io.cohort.topology.Topology;
import io.cohort.topology.TopologyDetector;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_P2PAttribute;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Detects how CUDA devices connect: CUDA's P2P attributes (access, native atomics, performance rank),
 * NVLink counts from NVML where the library is present (direct links, or links into NVSwitches), and, if
 * configured, a measured bandwidth and latency per P2P pair. Ranks on the same device (several ranks per
 * GPU) are linked as SELF.
 */
public final class CudaTopologyDetector implements TopologyDetector {

    private static final Logger LOG = LoggerFactory.getLogger(CudaTopologyDetector.class);

    /** CUDA's view of one ordered pair. */
    public record P2pAttributes(boolean access, boolean nativeAtomics, int performanceRank) {
    }

    private final boolean probe;
    private final long probeBytes;

    public CudaTopologyDetector(CudaConfig config) {
        this(config.probeLinks(), config.probeBytes());
    }

    public CudaTopologyDetector(boolean probe, long probeBytes) {
        this.probe = probe;
        this.probeBytes = probeBytes;
    }

    @Override
    public Topology detect(List<? extends Device> devices) {
        List<CudaDevice> cuda = new ArrayList<>();
        for (Device d : devices) {
            if (!(d instanceof CudaDevice c)) {
                throw new IllegalArgumentException("CudaTopologyDetector needs CUDA devices, got " + d.name());
            }
            cuda.add(c);
        }
        int n = cuda.size();
        Optional<Nvml> nvml = Nvml.load();
        Map<Integer, Nvml.LinkReport> reports = new HashMap<>();
        Link[][] links = new Link[n][n];
        List<String> names = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            names.add(cuda.get(i).name());
            for (int j = 0; j < n; j++) {
                CudaDevice a = cuda.get(i);
                CudaDevice b = cuda.get(j);
                if (a.ordinal() == b.ordinal()) {
                    links[i][j] = Link.self();
                    continue;
                }
                P2pAttributes attr = attributes(a, b);
                if (!attr.access()) {
                    links[i][j] = new Link(false, LinkKind.HOST_STAGED, 0, -1, Double.NaN, Double.NaN);
                    continue;
                }
                int nvlinks = nvml.map(lib -> {
                    Nvml.LinkReport ra = reports.computeIfAbsent(a.ordinal(), o -> lib.links(a.pciBusId()));
                    Nvml.LinkReport rb = reports.computeIfAbsent(b.ordinal(), o -> lib.links(b.pciBusId()));
                    return ra.linksTo(b.pciBusId(), rb);
                }).orElse(0);
                Link link = new Link(true, nvlinks > 0 ? LinkKind.NVLINK : LinkKind.PCIE, nvlinks,
                        attr.performanceRank(), Double.NaN, Double.NaN);
                if (probe) {
                    a.enablePeerAccess(b);
                    LinkProbe.Result r = LinkProbe.measure(a, b, probeBytes);
                    link = link.withMeasurement(r.bandwidthGBps(), r.latencyUs());
                }
                LOG.debug("{} -> {}: {} (atomics {}), {} GB/s, {} us", a.name(), b.name(), link.label(),
                        attr.nativeAtomics(), link.bandwidthGBps(), link.latencyUs());
                links[i][j] = link;
            }
        }
        return new Topology("cuda", names, links);
    }

    /** cuDeviceGetP2PAttribute for a -> b (different devices). */
    public static P2pAttributes attributes(CudaDevice a, CudaDevice b) {
        a.makeCurrent();
        return new P2pAttributes(attribute(a, b, CUdevice_P2PAttribute.CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED) != 0,
                attribute(a, b, CUdevice_P2PAttribute.CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED) != 0,
                attribute(a, b, CUdevice_P2PAttribute.CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK));
    }

    private static int attribute(CudaDevice a, CudaDevice b, int attribute) {
        int[] v = new int[1];
        CUdevice da = new CUdevice();
        CUdevice db = new CUdevice();
        Cu.check(jcuda.driver.JCudaDriver.cuDeviceGet(da, a.ordinal()), a.name(), "cuDeviceGet");
        Cu.check(jcuda.driver.JCudaDriver.cuDeviceGet(db, b.ordinal()), b.name(), "cuDeviceGet");
        Cu.check(cuDeviceGetP2PAttribute(v, attribute, da, db), a.name(), "cuDeviceGetP2PAttribute(" + attribute + ", " + b.name() + ")");
        return v[0];
    }

    /** NVLink report of one device from NVML (empty report where NVML is missing). */
    public static Nvml.LinkReport nvLinks(CudaDevice device) {
        return Nvml.load().map(n -> n.links(device.pciBusId())).orElse(new Nvml.LinkReport(0, 0, Map.of()));
    }
}
