// The landing page at /: what the three pages are for and how to try the
// enrollment with one's own face.
import * as i18n from "/web/i18n.js";

i18n.add({
  "home.title": "shenfen: virtual ID card",
  "home.intro": "An open electronic identity platform: a citizen enrolls from the phone with a selfie and four digits read aloud, holds the card in a wallet, and shows it at a front desk or signs in to websites with it.",
  "home.wallet": "Wallet (citizen)",
  "home.wallet.what": "Enroll with camera and microphone, hold the card, show its code at a desk, approve a sign-in, see who saw your data.",
  "home.desk": "Front desk (verifier)",
  "home.desk.what": "Check a guest's card face to face with the portrait, online or with no network; record check-ins.",
  "home.console": "Console (identity authority)",
  "home.console.what": "Operators look up records with a reason, suspend, revoke and reinstate cards, register websites.",
  "home.try": "Try it yourself",
  "home.try.1": "Start the server: scripts/run.sh (a demo registry of residents whose portraits come from the test photo set).",
  "home.try.2": "To enroll with your own face, add a record with your portrait (an 18-character ID number whose last character is its check character: the wallet says if it is wrong):",
  "home.try.3": "Open the wallet on a phone, enter that ID number and name, and follow the steps: a selfie, then read the four digits aloud while the screen changes colour.",
  "home.try.4": "Open the front desk on a laptop and scan the code the wallet shows (after your fingerprint, face or app PIN).",
  "home.try.https": "A phone's browser gives the camera and microphone only to https:// pages (or to localhost). Put shenfen behind an HTTPS reverse proxy with a certificate for your host and start it with --public-url https://your-host.",
}, {
  "home.title": "身份：虚拟身份证",
  "home.intro": "开放的电子身份平台：公民用手机自拍并朗读四位数字即可申领，证件保存在钱包中，可在前台出示，也可用来登录网站。",
  "home.wallet": "钱包（公民）",
  "home.wallet.what": "用摄像头和麦克风申领，保存证件，在前台出示二维码，确认登录，查看谁查看过您的信息。",
  "home.desk": "前台核验（核验方）",
  "home.desk.what": "当面核验客人的证件与照片，联网或离线均可；登记入住。",
  "home.console": "管理控制台（发证机关）",
  "home.console.what": "工作人员说明理由后查询记录，挂失、注销和恢复证件，登记网站。",
  "home.try": "亲自试一试",
  "home.try.1": "启动服务：scripts/run.sh（演示户籍库，居民照片来自测试照片集）。",
  "home.try.2": "如需用自己的面孔申领，请添加一条带有您照片的记录（18 位身份号码，最后一位为校验码：若有误，钱包会提示）：",
  "home.try.3": "在手机上打开钱包，输入该身份号码和姓名，按步骤操作：先自拍，再在屏幕变换颜色时朗读四位数字。",
  "home.try.4": "在电脑上打开前台核验页面，扫描钱包显示的二维码（需先验证指纹、面容或应用密码）。",
  "home.try.https": "手机浏览器只允许 https:// 页面（或 localhost）使用摄像头和麦克风。请将 shenfen 置于带有您主机证书的 HTTPS 反向代理之后，并以 --public-url https://您的主机 启动。",
});
i18n.init();
