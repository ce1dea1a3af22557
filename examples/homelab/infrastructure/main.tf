# Proxmox VMs booting Talos, the Talos cluster, and Cilium as the CNI (Talos runs without
# one: `cni: none`).

locals {
  controlplanes = { for name, node in var.nodes : name => node if node.role == "controlplane" }
  first_cp      = values(local.controlplanes)[0].ip
  endpoint      = "https://${local.first_cp}:6443"
}

resource "proxmox_virtual_environment_vm" "node" {
  for_each  = var.nodes
  name      = each.key
  node_name = var.proxmox_node
  tags      = ["talos", var.cluster_name, each.value.role]

  cpu {
    cores = each.value.role == "controlplane" ? 2 : 4
    type  = "host"
  }
  memory {
    dedicated = each.value.role == "controlplane" ? 4096 : 8192
  }
  disk {
    datastore_id = "local-lvm"
    interface    = "virtio0"
    size         = 40
  }
  cdrom {
    file_id = var.talos_iso
  }
  network_device {
    bridge = "vmbr0"
  }
  initialization {
    ip_config {
      ipv4 {
        address = "${each.value.ip}/24"
        gateway = "192.168.1.1"
      }
    }
  }
}

resource "talos_machine_secrets" "this" {}

data "talos_machine_configuration" "node" {
  for_each         = var.nodes
  cluster_name     = var.cluster_name
  cluster_endpoint = local.endpoint
  machine_type     = each.value.role
  machine_secrets  = talos_machine_secrets.this.machine_secrets
  config_patches = [yamlencode({
    cluster = {
      network = { cni = { name = "none" } }
      proxy   = { disabled = true }
    }
  })]
}

resource "talos_machine_configuration_apply" "node" {
  for_each                    = var.nodes
  client_configuration        = talos_machine_secrets.this.client_configuration
  machine_configuration_input = data.talos_machine_configuration.node[each.key].machine_configuration
  node                        = each.value.ip
  depends_on                  = [proxmox_virtual_environment_vm.node]
}

resource "talos_machine_bootstrap" "this" {
  client_configuration = talos_machine_secrets.this.client_configuration
  node                 = local.first_cp
  depends_on           = [talos_machine_configuration_apply.node]
}

resource "talos_cluster_kubeconfig" "this" {
  client_configuration = talos_machine_secrets.this.client_configuration
  node                 = local.first_cp
  depends_on           = [talos_machine_bootstrap.this]
}

resource "helm_release" "cilium" {
  name       = "cilium"
  namespace  = "kube-system"
  repository = "https://helm.cilium.io/"
  chart      = "cilium"
  version    = var.cilium_version
  values = [yamlencode({
    ipam                 = { mode = "kubernetes" }
    kubeProxyReplacement = true
    k8sServiceHost       = "localhost"
    k8sServicePort       = 7445
    securityContext = {
      capabilities = {
        ciliumAgent      = ["CHOWN", "KILL", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "SYS_ADMIN", "SYS_RESOURCE", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]
        cleanCiliumState = ["NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE"]
      }
    }
    cgroup = {
      autoMount = { enabled = false }
      hostRoot  = "/sys/fs/cgroup"
    }
  })]
}
