import BatchCore
import KubeClient
import MemberwiseInit

/// The leader Lease through the Kubernetes API (get, create, update with resourceVersion).
@MemberwiseInit(.public)
public struct KubeLeaseStore: LeaseStore {
    let client: KubeClient
    let name: String
    let namespace: String

    public func get() async throws -> LeaseRecord? {
        do {
            return record(try await client.lease(name, namespace: namespace))
        } catch let error as KubeError where error.isNotFound {
            return nil
        }
    }

    public func create(_ record: LeaseRecord) async throws -> LeaseRecord {
        do {
            return self.record(try await client.createLease(lease(record)))
        } catch let error as KubeError where error.isConflict {
            throw LeaseStoreError.conflict
        }
    }

    public func update(_ record: LeaseRecord) async throws -> LeaseRecord {
        do {
            return self.record(try await client.updateLease(lease(record)))
        } catch let error as KubeError where error.isConflict {
            throw LeaseStoreError.conflict
        }
    }

    func record(_ lease: Lease) -> LeaseRecord {
        LeaseRecord(holderIdentity: lease.spec.holderIdentity, leaseDurationSeconds: lease.spec.leaseDurationSeconds ?? 15,
                    acquireTime: lease.spec.acquireTime?.time, renewTime: lease.spec.renewTime?.time,
                    leaseTransitions: lease.spec.leaseTransitions ?? 0, resourceVersion: lease.metadata.resourceVersion,
                    strategy: lease.spec.strategy, preferredHolder: lease.spec.preferredHolder)
    }

    func lease(_ r: LeaseRecord) -> Lease {
        Lease(metadata: ObjectMeta(name: name, namespace: namespace, resourceVersion: r.resourceVersion),
              spec: LeaseSpec(holderIdentity: r.holderIdentity, leaseDurationSeconds: r.leaseDurationSeconds,
                              acquireTime: r.acquireTime.map(MicroTime.init), renewTime: r.renewTime.map(MicroTime.init),
                              leaseTransitions: r.leaseTransitions, strategy: r.strategy, preferredHolder: r.preferredHolder))
    }
}
