import Foundation

/// kube-vip's static Pod manifest (control plane VIP by ARP, leader election), as `kube-vip manifest pod
/// --interface IF --address VIP --controlplane --services --arp --leaderElection` prints it.
enum KubeVIP {
    /// The manifest. `superAdmin` mounts `/etc/kubernetes/super-admin.conf` instead of `admin.conf`: on
    /// Kubernetes 1.29 and later `admin.conf` has no rights while `kubeadm init` runs (kube-vip issue #684),
    /// so the first master starts with super-admin and is switched back afterwards.
    static func manifest(vip: String, interface: String, image: String, superAdmin: Bool) -> String {
        let kubeconfig = superAdmin ? "/etc/kubernetes/super-admin.conf" : "/etc/kubernetes/admin.conf"
        return """
            apiVersion: v1
            kind: Pod
            metadata:
              name: kube-vip
              namespace: kube-system
            spec:
              containers:
              - name: kube-vip
                image: \(image)
                imagePullPolicy: IfNotPresent
                args: ["manager"]
                env:
                - {name: vip_arp, value: "true"}
                - {name: port, value: "6443"}
                - {name: vip_interface, value: "\(interface)"}
                - {name: vip_cidr, value: "32"}
                - {name: cp_enable, value: "true"}
                - {name: cp_namespace, value: kube-system}
                - {name: svc_enable, value: "true"}
                - {name: vip_leaderelection, value: "true"}
                - {name: vip_leasename, value: plndr-cp-lock}
                - {name: vip_leaseduration, value: "5"}
                - {name: vip_renewdeadline, value: "3"}
                - {name: vip_retryperiod, value: "1"}
                - {name: address, value: "\(vip)"}
                securityContext:
                  capabilities:
                    add: [NET_ADMIN, NET_RAW]
                volumeMounts:
                - {mountPath: /etc/kubernetes/admin.conf, name: kubeconfig}
              hostAliases:
              - hostnames: [kubernetes]
                ip: 127.0.0.1
              hostNetwork: true
              volumes:
              - name: kubeconfig
                hostPath: {path: \(kubeconfig)}

            """
    }

    /// Whether `kubeadm init` of this Kubernetes version (`1.30.2`, `v1.29`) needs the super-admin variant.
    static func needsSuperAdmin(kubernetesVersion: String) -> Bool {
        let parts = kubernetesVersion.trimmingCharacters(in: CharacterSet(charactersIn: "v")).split(separator: ".").compactMap { Int($0) }
        guard parts.count >= 2 else { return true }
        return parts[0] > 1 || (parts[0] == 1 && parts[1] >= 29)
    }
}
